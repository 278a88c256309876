"""Development data: the demo seed (through the services) and the large-data generator
(bulk inserts for benchmarks)."""
