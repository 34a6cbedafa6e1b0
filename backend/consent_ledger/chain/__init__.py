"""Everything that talks to the compiler or the chain."""
