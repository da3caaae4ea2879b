"""Usage indicators of the public access points: figures, snapshots, the report, exports."""
