"""mssante-hub: a secure health messaging hub in the image of Mon espace santé and MSSanté."""

__version__ = "0.1.0"
