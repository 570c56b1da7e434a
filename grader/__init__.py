"""Sandboxed autograder for Assignment 2: Attention and Transformers."""
