"""cadrage: tags French news sentences for loaded framing, stance and voice."""

__version__ = "0.1.0"
