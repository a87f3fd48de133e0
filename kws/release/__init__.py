"""The student bundle: what an instructor hands out instead of the repository (`kws release`)."""
