"""Politeness: the adaptive controller (``controller.py``) and its law (``law.py``); pure."""
