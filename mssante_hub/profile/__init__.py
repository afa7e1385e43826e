"""The profil médical: the patient's structured summary, FHIR R4 entries filed in `Dossier/Profil` (docs/profile.md)."""
