"""The indexer: follows the contract's events into `chain_events`, rewinding on reorgs."""
