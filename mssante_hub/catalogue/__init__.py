"""The catalogue of referenced services and the patients' consents to them (docs/catalogue.md)."""
