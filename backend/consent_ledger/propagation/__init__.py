"""Consent propagation: each brand told of an event (delivered) and each acknowledgement, as version-3
access-log leaves indexed by customer, brand, event and step (`record_step`), and the views over them."""
