"""The backend's own transactions, durable: every nonce is allocated in the database and each signed
transaction is recorded before it is broadcast, so a crash, a timeout or a node restart leads to
waiting for it, re-broadcasting it or replacing it with the same nonce, never to a second nonce."""
