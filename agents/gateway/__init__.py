"""The hotspot gateway daemon: nftables enforcement, visitor sessions, accounting."""
