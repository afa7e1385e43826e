"""The categories the patient's dossier is shown in, and the document type codes of each (docs/domain.md §6.4).

A filed document lives in the folder `Dossier/<category code>`; the webmail shows the French
label. A type code not listed goes to AUTR_DOC.
"""

from __future__ import annotations

from dataclasses import dataclass

FOLDER_PREFIX = "Dossier/"
# The professionals' view of a category: a folder of the patient's that holds only what professionals may
# read (no MASQUE_PS, nothing the patient hid, current versions only), served over IMAP as
# Patients/<INS>/Dossier/<code> (imap/dossier_view.py). Hidden from the patient's own folder list.
PROFESSIONAL_PREFIX = ".professionnels/"
# The declared general practitioner's view: the same, plus MASQUE_PS documents (docs/domain.md §6.2), served
# under the same IMAP names to the professional the patient declared (storage/general_practitioners.py).
GP_PREFIX = PROFESSIONAL_PREFIX + "medecin-traitant/"
# The author's view of their own MASQUE_PS documents: one folder per category and author, named by the keyed digest
# of the author's idNatPS (index.AUTHOR), served as Patients/<INS>/Auteur/<category> to that author.
AUTHOR_PREFIX = PROFESSIONAL_PREFIX + "auteur/"
OTHER = "AUTR_DOC"


@dataclass(frozen=True)
class Category:
    code: str
    label: str  # French: what the patient reads
    type_codes: tuple[str, ...]

    @property
    def folder(self) -> str:
        return FOLDER_PREFIX + self.code

    @property
    def professional_folder(self) -> str:
        return PROFESSIONAL_PREFIX + FOLDER_PREFIX + self.code

    @property
    def gp_folder(self) -> str:
        return GP_PREFIX + FOLDER_PREFIX + self.code

    def author_folder(self, author_key: str) -> str:
        return f"{AUTHOR_PREFIX}{author_key}/{FOLDER_PREFIX}{self.code}"

    def view_folder(self, general_practitioner: bool) -> str:
        return self.gp_folder if general_practitioner else self.professional_folder


# docs/domain.md §6.4, in the order the webmail shows them.
CATEGORIES: tuple[Category, ...] = (
    Category("SYNTHESE", "Ma santé en résumé / synthèses", ("60591-5", "SYNTH", "74207-2")),
    Category("ORD_SOIN", "Ordonnances et soins", ("57833-6", "60593-1", "55115-0", "75496-0")),
    Category("RADIO_SC", "Radio, écho, scanner, IRM", ("18748-4",)),
    Category("BIOLOGIE", "Résultats de biologie", ("11502-2", "96173-0", "51969-4")),
    Category("CPT_REND", "Comptes rendus", ("11490-0", "18761-7", "34133-9", "11488-4", "34749-2", "77436-4",
                                            "34794-8", "18776-5", "85208-7", "78513-9", "57055-6", "89235-6",
                                            "78489-2", "57075-4", "57057-2")),
    Category("DEPISTAG", "Prévention et dépistages", ("75492-9",)),
    Category("CERT_MED", "Certificats médicaux", ("CERT_DECL",)),
    Category("CAR_VAC", "Vaccination", ("87273-9", "11369-6")),
    Category("REMB", "Remboursements", ("REMB",)),
    Category(OTHER, "Autres documents", ("29274-8",)),
)
BY_CODE = {c.code: c for c in CATEGORIES}
_BY_TYPE = {t: c for c in CATEGORIES for t in c.type_codes}


def of_type(type_code: str) -> Category:
    """The category of a CDA type code (`code/@code`); AUTR_DOC for any code not listed."""
    return _BY_TYPE.get(type_code.strip(), BY_CODE[OTHER])


def of_folder(folder: str) -> Category | None:
    """The category a `Dossier/<code>` folder name stands for, or None."""
    if not folder.startswith(FOLDER_PREFIX):
        return None
    return BY_CODE.get(folder[len(FOLDER_PREFIX):])


def of_professional_folder(folder: str) -> Category | None:
    if not folder.startswith(PROFESSIONAL_PREFIX):
        return None
    return of_folder(folder[len(PROFESSIONAL_PREFIX):])


def of_gp_folder(folder: str) -> Category | None:
    if not folder.startswith(GP_PREFIX):
        return None
    return of_folder(folder[len(GP_PREFIX):])


def of_author_folder(folder: str, author_key: str | None = None) -> Category | None:
    """The category of an author's view folder (of this author's, when `author_key` is given)."""
    if not folder.startswith(AUTHOR_PREFIX):
        return None
    key, _, rest = folder[len(AUTHOR_PREFIX):].partition("/")
    if not key or (author_key is not None and key != author_key):
        return None
    return of_folder(rest)


def of_view_folder(folder: str, general_practitioner: bool) -> Category | None:
    """The category of one of the two professional views' folders (the GP's, or everyone else's)."""
    return of_gp_folder(folder) if general_practitioner else of_professional_folder(folder)


def is_internal(folder: str) -> bool:
    """A folder the hub keeps for its own views, not shown in the holder's folder list."""
    return folder.startswith(PROFESSIONAL_PREFIX)
