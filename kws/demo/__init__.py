"""`kws demo`: the kit's whole loop on synthetic data, in one command (`kws.demo.run`), with its
grading (`grading`), what it shows of its progress (`progress`) and the cores shared between the
notebooks it runs side by side (`cores`)."""
