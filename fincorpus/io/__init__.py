"""Reading inputs (discovery, decoding, formats) and writing outputs atomically."""
