"""salesbrain's domain: tiered memory, permissions, context assembly, heartbeat, signals."""
