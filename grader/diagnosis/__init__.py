"""Turning a wrong answer into a named bug: known-bug variants, §1 feedback and the from-scratch rule."""
