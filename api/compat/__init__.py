"""Drop-in routes for hosted media APIs (one module each): thin adapters that translate their requests
into native submissions and the native Job back into their answers (docs/compat/)."""
