"""Readers of published line-list formats: MOOG (linemake), VALD3 and Kurucz (gfall, molecular).

Every reader returns a :class:`~glocal.linelists.LineList` with wavelengths in Å, E_low in eV and
damping constants as log10 values (NaN where the file gives none); plain or gzip-compressed files.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .._io import read_maybe_gzipped
from ..constants import EV_TO_CM1
from .species import _NAME_TO_MOL, _Z, ELEMENTS, isotope_fraction, species_code
from .table import _MEDIA, LineList, _empty, _fill_species

__all__ = ["read_moog", "read_vald", "read_kurucz"]

EV_PER_CM1 = 1.0 / EV_TO_CM1  # eV per cm⁻¹ (CODATA 2018, glocal.constants)


def _read_bytes(path) -> bytes:
    return read_maybe_gzipped(path, "line-list")


def _fixed_floats(block: np.ndarray, name: str, path, allow_blank: bool) -> np.ndarray:
    """Fixed-width byte columns → float (blank → NaN when allowed)."""
    field_ = np.char.strip(block)
    blank = field_ == b""
    if blank.any():
        if not allow_blank:
            raise ValueError(f"{path}: blank {name} field")
        field_ = np.where(blank, b"nan", field_)
    try:
        return field_.astype(float)
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric {name} field ({exc})") from exc


# ----------------------------------------------------------------------------------------
# MOOG (linemake)
# ----------------------------------------------------------------------------------------
def _line_table(raw: bytes, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of the non-blank lines of ``raw`` (vectorised, no Python loop)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [buf.size]])
    lengths = ends - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    return starts, lengths


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, a: int, b: int) -> list[np.ndarray]:
    """Characters a..b of every line as a list of b-a uint8 columns (space-padded, CR → space)."""
    cols = []
    top = buf.size - 1
    for j in range(a, b):
        c = np.where(j < lengths, buf[np.minimum(starts + j, top)], 32).astype(np.uint8)
        c[c == 13] = 32
        cols.append(c)
    return cols


def _parse_decimal(cols: list[np.ndarray], what: str, path):
    """Vectorised parse of a fixed-width decimal field (no exponent) given as character
    columns: returns (value, mantissa, n_decimals); blank fields give NaN.  Values equal
    float(text) (integer mantissa divided by a power of ten, correctly rounded)."""
    n = cols[0].size
    mant = np.zeros(n, np.int64)
    ndig = np.zeros(n, np.int32)
    ndec = np.zeros(n, np.int32)
    ndot = np.zeros(n, np.int8)
    neg = np.zeros(n, bool)
    nsign = np.zeros(n, np.int8)
    for c in cols:
        dig = (c >= 48) & (c <= 57)
        dot = c == 46
        sign = (c == 45) | (c == 43)
        if np.any(~(dig | dot | sign | (c == 32))):
            row = int(np.flatnonzero(~(dig | dot | sign | (c == 32)))[0])
            text = bytes(int(k[row]) for k in cols).decode(errors="replace")
            raise ValueError(f"{path}: non-numeric {what} field {text!r} (record {row + 1})")
        mant = np.where(dig, mant * 10 + (c.astype(np.int64) - 48), mant)
        ndig += dig
        ndec += dig & (ndot > 0)
        ndot += dot
        neg |= c == 45
        nsign += sign
    if np.any(ndot > 1) or np.any(nsign > 1):
        raise ValueError(f"{path}: malformed {what} field (several '.' or signs)")
    if np.any(ndig > 18):
        raise ValueError(f"{path}: {what} field with more than 18 digits")
    value = np.where(neg, -1.0, 1.0) * mant / 10.0 ** ndec
    value[ndig == 0] = np.nan
    return value, mant, ndec


def read_moog(path, medium: str = "air", source: str | None = None, citation: str = "") -> LineList:
    """MOOG line list as written by linemake (Placco et al. 2021): fixed 10-character columns
    wavelength (Å), species code (with isotope digits), E_low (eV), log gf, damping, D0 (eV).

    The damping column is copied to ``gamma_vdw`` (MOOG: negative = log10 γ_6); blank → NaN.
    Isotope fractions are computed from the isotope digits (solar, Asplund et al. 2009) but not
    applied (``isotopes_applied=False``).  A first line that is not numeric is taken as a title.
    linemake wavelengths are in air.
    """
    if medium not in _MEDIA:
        raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
    raw = _read_bytes(path)
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, lengths = _line_table(raw, 80)
    if starts.size:
        try:
            float(raw[starts[0]:starts[0] + min(10, lengths[0])])
        except ValueError:
            starts, lengths = starts[1:], lengths[1:]  # title line
    wave_f = _gather(buf, starts, lengths, 0, 10)
    nonblank = np.zeros(starts.size, bool)
    for c in wave_f:
        nonblank |= (c != 32)
    starts, lengths = starts[nonblank], lengths[nonblank]
    wave_f = [c[nonblank] for c in wave_f]
    if starts.size == 0:
        raise ValueError(f"{path}: empty MOOG line list")
    if np.any(lengths < 40):
        bad = int(np.flatnonzero(lengths < 40)[0])
        raise ValueError(f"{path}: line {bad + 1} is shorter than the 4 mandatory MOOG columns (truncated?)")
    wave, _, _ = _parse_decimal(wave_f, "wavelength", path)
    code, cmant, cdec = _parse_decimal(_gather(buf, starts, lengths, 10, 20), "species code", path)
    elow, _, _ = _parse_decimal(_gather(buf, starts, lengths, 20, 30), "excitation", path)
    loggf, _, _ = _parse_decimal(_gather(buf, starts, lengths, 30, 40), "log gf", path)
    damp, _, _ = _parse_decimal(_gather(buf, starts, lengths, 40, 50), "damping", path)
    d0, _, _ = _parse_decimal(_gather(buf, starts, lengths, 50, 60), "D0", path)
    for arr, name in ((wave, "wavelength"), (code, "species code"), (elow, "excitation"), (loggf, "log gf")):
        if np.isnan(arr).any():
            raise ValueError(f"{path}: blank {name} field in line {int(np.flatnonzero(np.isnan(arr))[0]) + 1}")
    z = np.floor(code + 1e-9).astype(np.int64)
    dec = cmant - z * 10 ** cdec.astype(np.int64)  # the decimal digits as an integer
    pow_ = 10 ** np.maximum(cdec - 1, 0).astype(np.int64)
    atom = z <= len(ELEMENTS)
    ion_digit = np.where(atom & (cdec >= 1), dec // pow_, 0)
    iso = np.where(atom, np.where(cdec >= 2, dec % pow_, 0), dec)
    data = _empty(wave.size)
    data["wave"], data["elow"], data["loggf"] = wave, elow, loggf
    data["code"] = code  # exactly float(text), isotope digits included
    data["isotope_code"] = iso
    data["gamma_vdw"] = np.where(damp == 0, np.nan, damp)
    _fill_species(data)
    data["d0"] = np.where(~atom, d0, np.nan)
    base = np.where(atom, z + ion_digit / 10.0, z.astype(float))
    keys, inv = np.unique(np.stack([base, iso.astype(float)], 1), axis=0, return_inverse=True)
    data["isotope_fraction"] = isotope_fraction(keys[:, 0], keys[:, 1].astype(int))[inv.ravel()]
    return LineList(data, medium=medium, source=source or Path(path).name,
                    citation=citation or "Placco et al. 2021, RNAAS 5, 92 (linemake)")


# ----------------------------------------------------------------------------------------
# VALD3
# ----------------------------------------------------------------------------------------
_VALD_ROW = re.compile(r"^'([A-Z][A-Za-z0-9]*)\s+(\d+)',(.*)$")


def read_vald(path) -> LineList:
    """VALD3 "extract stellar" or "extract all", short or long format.

    Medium from the header (``WL_air``/``WL_vac``), energies in eV or cm⁻¹ (converted to eV).
    Damping: Rad = log10 γ_rad, Stark = log10 γ_4/N_e, Waals < 0 = log10 γ_6/N_H, > 0 = ABO
    σ.α; zeros mean "not available" and become NaN.  VALD log gf already include the solar
    isotopic scaling when the file says so (``isotopes_applied``).
    """
    text = _read_bytes(path).decode("latin-1")
    lines = text.splitlines()
    header_i = next((i for i, l in enumerate(lines) if re.search(r"WL_(air|vac)", l)), None)
    if header_i is None:
        raise ValueError(f"{path}: no VALD column header (WL_air/WL_vac) found")
    header = lines[header_i]
    medium = "air" if "WL_air" in header else "vacuum"
    wl_unit = re.search(r"WL_(?:air|vac)\((\w+)\)", header)
    wl_scale = {"A": 1.0, "nm": 10.0}.get(wl_unit.group(1) if wl_unit else "A")
    if wl_scale is None:
        raise ValueError(f"{path}: unsupported VALD wavelength unit {wl_unit.group(1)!r}")
    long_format = "J lo" in header
    energy_cm = "cm^-1" in header or "cm-1" in header
    rows = []
    for line in lines[header_i + 1:]:
        m = _VALD_ROW.match(line)
        if not m:
            continue
        nums = []
        for tok in m.group(3).split(","):
            tok = tok.strip()
            if tok.startswith("'"):
                break
            if tok:
                nums.append(float(tok))
        rows.append((m.group(1), int(m.group(2)), nums))
    if not rows:
        raise ValueError(f"{path}: no VALD line rows found")
    data = _empty(len(rows))
    for i, (sp, ion, nums) in enumerate(rows):
        if long_format:
            if len(nums) < 12:
                raise ValueError(f"{path}: long-format row for {sp} {ion} has {len(nums)} numbers, need 12")
            wave, loggf, elow = nums[0], nums[1], nums[2]
            rad, stark, waals = nums[9], nums[10], nums[11]
        else:
            has_vmic = "Vmic" in header
            need = 7 + has_vmic
            if len(nums) < need:
                raise ValueError(f"{path}: short-format row for {sp} {ion} has {len(nums)} numbers, need {need}")
            wave, elow = nums[0], nums[1]
            off = 3 if has_vmic else 2
            loggf = nums[off]
            rad, stark, waals = nums[off + 1], nums[off + 2], nums[off + 3]
        code = species_code(sp) if sp in _NAME_TO_MOL or sp not in _Z else _Z[sp] + (ion - 1) / 10.0
        if code >= 100 and ion != 1:
            raise ValueError(f"{path}: ionised molecule {sp} {ion} not supported")
        data[i]["wave"] = wave * wl_scale
        data[i]["code"] = code
        data[i]["elow"] = elow * EV_PER_CM1 if energy_cm else elow
        data[i]["loggf"] = loggf
        data[i]["gamma_rad"] = rad if rad != 0 else np.nan
        data[i]["gamma_stark"] = stark if stark != 0 else np.nan
        data[i]["gamma_vdw"] = waals if waals != 0 else np.nan
    _fill_species(data)
    applied = "scaled by the solar isotopic ratios" in text
    return LineList(data, medium=medium, source=Path(path).name,
                    citation="VALD3: Ryabchikova et al. 2015, Phys. Scr. 90, 054005", isotopes_applied=applied)


# ----------------------------------------------------------------------------------------
# Kurucz
# ----------------------------------------------------------------------------------------
def read_kurucz(path, medium: str | None = None) -> LineList:
    """Kurucz line lists: gfall/gf*.dat 160-column atomic format or molecular ASCII.

    Wavelengths are nm in the files and returned in Å.  ``medium`` defaults to "vacuum" when
    the file name contains "vac" and to "air" otherwise (Kurucz: air above 200 nm).
    gfall damping columns are log10 γ_rad, log10 γ_4/N_e, log10 γ_6/N_H (0 → NaN).  The log
    isotope fraction (cols 119–124) and hyperfine fraction (cols 110–115) are stored in
    ``isotope_fraction`` (= 10^(iso + hfs)) and not applied to log gf.
    Molecular ASCII: F10.4 λ, F7.3 log gf, J, E (cm⁻¹), J', E', I4 code; E_low = min(|E|, |E'|);
    its isotope labels are not decoded (isotope_code 0, isotope_fraction 1).
    """
    path = Path(path)
    raw = _read_bytes(path)
    lines = [l for l in raw.splitlines() if l.strip()]
    if not lines:
        raise ValueError(f"{path}: empty Kurucz line list")
    if medium is None:
        medium = "vacuum" if "vac" in path.name.lower() else "air"
    if medium not in _MEDIA:
        raise ValueError(f"medium must be 'air' or 'vacuum', got {medium!r}")
    is_gfall = all(len(l.rstrip()) >= 100 for l in lines[:20])
    width = 160 if is_gfall else 80
    arr = np.array(lines, dtype=f"S{width}")
    buf = arr.view("S1").reshape(arr.size, width)

    def col(a, b):
        return np.ascontiguousarray(buf[:, a:b]).view(f"S{b - a}").ravel()

    data = _empty(arr.size)
    if is_gfall:
        wave_nm = _fixed_floats(col(0, 11), "wavelength", path, False)
        loggf = _fixed_floats(col(11, 18), "log gf", path, False)
        code = _fixed_floats(col(18, 24), "species code", path, False)
        e1 = np.abs(_fixed_floats(col(24, 36), "E1", path, False))
        e2 = np.abs(_fixed_floats(col(52, 64), "E2", path, False))
        grad = _fixed_floats(col(80, 86), "gamma_rad", path, True)
        gst = _fixed_floats(col(86, 92), "gamma_stark", path, True)
        gvw = _fixed_floats(col(92, 98), "gamma_vdw", path, True)
        iso = np.nan_to_num(_fixed_floats(col(106, 109), "isotope", path, True)).astype(int)
        hfs = np.nan_to_num(_fixed_floats(col(109, 115), "hfs fraction", path, True))
        isof = np.nan_to_num(_fixed_floats(col(118, 124), "isotope fraction", path, True))
        z = np.floor(code + 1e-9)
        charge = np.round((code - z) * 100).astype(int)
        if np.any(z < 1) or np.any(z > len(ELEMENTS)) or np.any(charge < 0):
            raise ValueError(f"{path}: invalid atomic species code in a gfall record")
        data["code"] = z + charge / 10.0
        data["isotope_code"] = iso
        data["gamma_rad"] = np.where(grad == 0, np.nan, grad)
        data["gamma_stark"] = np.where(gst == 0, np.nan, gst)
        data["gamma_vdw"] = np.where(gvw == 0, np.nan, gvw)
        data["isotope_fraction"] = 10.0 ** (isof + hfs)
        citation = "Kurucz 2011, Can. J. Phys. 89, 417 (gfall)"
    else:
        wave_nm = _fixed_floats(col(0, 10), "wavelength", path, False)
        loggf = _fixed_floats(col(10, 17), "log gf", path, False)
        e1 = np.abs(_fixed_floats(col(22, 32), "E1", path, False))
        e2 = np.abs(_fixed_floats(col(37, 48), "E2", path, False))
        code = _fixed_floats(col(48, 52), "molecule code", path, False)
        if np.any(code < 100):
            raise ValueError(f"{path}: molecular ASCII record with non-molecular code")
        data["code"] = code
        citation = "Kurucz molecular line data (kurucz.harvard.edu)"
    if np.any(wave_nm <= 0):
        raise ValueError(f"{path}: non-positive wavelength")
    data["wave"] = wave_nm * 10.0
    data["loggf"] = loggf
    data["elow"] = np.minimum(e1, e2) * EV_PER_CM1
    _fill_species(data)
    return LineList(data, medium=medium, source=path.name, citation=citation)
