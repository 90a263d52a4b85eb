"""Serial issuing (issue 4): signing keys, the serial codec, ranges and their lifecycle,
bulk downloads for printers, QR images and label sheets."""
