"""The patient's dossier: reading IHE XDM packages and CDA headers, and the integration check.

Only the reading part exists so far (xdm.py, cda.py, safexml.py) and the check that
decides the integration-error MDN of a document message (integration.py, docs/domain.md §4).
Categories, masking and professional access are still to come (docs/dossier.md).
"""
