"""Products a brand registers by GTIN, with bilingual text and market regions."""
