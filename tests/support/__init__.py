"""Helpers the tests share: a real platform process, shared fixtures, free ports."""
