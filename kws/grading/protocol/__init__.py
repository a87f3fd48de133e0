"""The child protocol: what both sides of the sandbox read (a child run, the payload's check, the
inputs file, where things are in a hand-in), and nothing else. Pure data and file look-ups: no
student code, no hidden labels, no torch at import time; it imports no other package of the
grader, and every other may import it.
"""
