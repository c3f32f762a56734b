"""File input and output. The only package of petro that imports lasio or dlisio."""
