"""The hot scan path: GS1 resolver, consumer verification page, POST /api/v1/scans, state stores."""
