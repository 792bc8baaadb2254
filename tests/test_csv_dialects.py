"""load_csv reads the CSV dialects spreadsheets write, and says which one it found.

Every dialect below is the same small table as PLAIN; it must load to exactly PLAIN's
arrays.  Refusals name the row (1-based, as a spreadsheet shows it), the column and the rule.
"""

import os

import numpy as np
import pytest

from engine import datasets as D

PLAIN = ("sepal length,sepal width,weight,species\n"
         "5.1,3.5,1234.5,setosa\n"
         "4.9,-3.0,0.25,versicolor\n"
         "6.2,2.9,1000000,setosa\n")

SEMICOLON = ("sepal length;sepal width;weight;species\n"
             "5,1;3,5;1234,5;setosa\n"
             "4,9;-3,0;0,25;versicolor\n"
             "6,2;2,9;1000000;setosa\n")


def _lines(text: str, ending: str) -> str:
    return text.replace("\n", ending)


DIALECTS = {
    "semicolon, decimal comma": (SEMICOLON, ["Semicolon-separated", "decimal comma"]),
    "semicolon, thousands dots": (SEMICOLON.replace("1234,5", "1.234,5").replace("1000000", "1.000.000"),
                                  ["Semicolon-separated", "decimal comma", "thousands grouped with '.'"]),
    "tab": (PLAIN.replace(",", "\t"), ["Tab-separated"]),
    "pipe": (PLAIN.replace(",", "|"), ["Pipe-separated"]),
    "quoted thousands commas": (PLAIN.replace("1234.5", '"1,234.5"').replace("1000000", '"1,000,000"'),
                                ["Comma-separated", "thousands grouped with ','", "quoted fields"]),
    "every field quoted": ("\n".join(",".join(f'"{c}"' for c in line.split(","))
                                     for line in PLAIN.splitlines()) + "\n", ["quoted fields"]),
    "Excel trailing semicolon": (_lines(SEMICOLON, ";\n"), ["separator at the end of every line"]),
    "trailing comma on data rows only": (PLAIN.replace("\n", ",\n").replace("species,\n", "species\n", 1),
                                         ["separator at the end of every line"]),
    "CR line endings": (_lines(PLAIN, "\r"), ["CR line endings (old Mac)"]),
    "CRLF line endings": (_lines(PLAIN, "\r\n"), ["CRLF line endings (Windows)"]),
    "UTF-8 BOM": (("\ufeff" + PLAIN).encode("utf-8"), ["UTF-8 byte order mark"]),
    "Excel in Europe: BOM, semicolons, CRLF, trailing separator":
        (("\ufeff" + _lines(SEMICOLON, ";\r\n")).encode("utf-8"),
         ["Semicolon-separated", "decimal comma", "CRLF", "byte order mark", "end of every line"]),
    "CR endings, semicolons, blank line": (_lines(SEMICOLON.replace("versicolor\n", "versicolor\n\n"), "\r"),
                                           ["Semicolon-separated", "CR line endings"]),
}


@pytest.mark.parametrize("name", list(DIALECTS))
def test_dialect_loads_to_the_plain_arrays(name):
    source, phrases = DIALECTS[name]
    plain = D.load_csv(PLAIN, "species")
    ds = D.load_csv(source, "species")
    np.testing.assert_array_equal(ds.X, plain.X)
    np.testing.assert_array_equal(ds.y, plain.y)
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.feature_names == plain.feature_names == ["sepal length", "sepal width", "weight"]
    assert ds.class_names == plain.class_names == ["setosa", "versicolor"]
    for phrase in phrases:
        assert phrase in ds.meta["dialect"], ds.meta["dialect"]
    assert ds.meta["dialect"] in ds.description


def test_plain_csv_says_comma_separated_and_nothing_else():
    assert D.load_csv(PLAIN, "species").meta["dialect"] == "Comma-separated."


def test_dialect_sentence_in_full():
    ds = D.load_csv(_lines(SEMICOLON, "\r"), "species")
    assert ds.meta["dialect"] == "Semicolon-separated, decimal comma, CR line endings (old Mac)."


def test_cr_only_file_with_a_quoted_line_break_and_a_path(tmp_path):
    text = 'a,b,label\r1.5,2,"two\rlines"\r3,4.25,x\r'
    path = tmp_path / "old mac.csv"
    path.write_bytes(text.encode("utf-8"))
    ds = D.load_csv(path, "label")
    np.testing.assert_array_equal(ds.X, np.array([[1.5, 2], [3, 4.25]], dtype=np.float32))
    assert ds.class_names == ["two\rlines", "x"]


def test_regression_target_with_decimal_comma():
    plain = D.load_csv("x,y\n1,0.5\n2,1.5\n3,2.25\n", "y")
    ds = D.load_csv("x;y\n1;0,5\n2;1,5\n3;2,25\n", "y")
    assert ds.task == plain.task == "regression"
    np.testing.assert_array_equal(ds.y, plain.y)
    np.testing.assert_array_equal(ds.X, plain.X)


def test_commas_in_header_names_do_not_fool_the_separator_sniffer():
    ds = D.load_csv("weight, kg;height;label\n1,5;2;a\n2,5;3;b\n", "label")
    assert ds.feature_names == ["weight, kg", "height"]
    np.testing.assert_array_equal(ds.X, np.array([[1.5, 2], [2.5, 3]], dtype=np.float32))


def test_semicolons_inside_text_keep_a_comma_file_comma_separated():
    ds = D.load_csv("a,b,label\n1,2,x;y\n3,4,p;q\n", "label")
    assert ds.class_names == ["p;q", "x;y"] and ds.meta["dialect"] == "Comma-separated."


def test_csv_columns_sees_the_sniffed_header():
    assert D.csv_columns(SEMICOLON.encode()) == ["sepal length", "sepal width", "weight", "species"]
    assert D.csv_columns(_lines(PLAIN, "\r")) == ["sepal length", "sepal width", "weight", "species"]


def test_dashboard_load_reads_a_semicolon_upload():
    from dashboard import data
    ds = data.load({"name": data.CSV_OPTION, "label": "species"}, csv_bytes=SEMICOLON.encode(),
                   csv_name="europe.csv")
    np.testing.assert_array_equal(ds.X, D.load_csv(PLAIN, "species").X)
    assert ds.name == "europe.csv"


# ------------------------------------------------------- scikit-learn's own CSV files

def _sklearn_csv(filename: str) -> str:
    sklearn = pytest.importorskip("sklearn")
    path = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "data", filename)
    if not os.path.isfile(path):
        pytest.skip(f"{filename} is not in this scikit-learn")
    return path


@pytest.mark.parametrize("filename, loader, n_columns", [
    ("wine_data.csv", "load_wine", 14),
    ("breast_cancer.csv", "load_breast_cancer", 31),
    ("iris.csv", "load_iris", 5),
])
def test_sklearn_csv_with_a_metadata_first_line(filename, loader, n_columns):
    from sklearn import datasets as skd
    bunch = getattr(skd, loader)()
    path = _sklearn_csv(filename)
    ds = D.load_csv(path, -1)
    np.testing.assert_array_equal(ds.X, bunch.data.astype(np.float32))
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert ds.class_names == list(bunch.target_names)
    assert ds.feature_names == [f"column {j}" for j in range(1, n_columns)]
    assert "first line" in ds.meta["dialect"] and "skipped (scikit-learn style" in ds.meta["dialect"]
    assert "no header row" in ds.meta["dialect"]
    assert D.csv_columns(path)[-1] == f"column {n_columns}"
    by_name = D.load_csv(path, f"column {n_columns}")
    np.testing.assert_array_equal(by_name.y, ds.y)


def test_wine_dialect_sentence():
    ds = D.load_csv(_sklearn_csv("wine_data.csv"), -1)
    assert ds.meta["dialect"] == (
        "Comma-separated, first line '178,13,class_0,class_1,class_2' skipped (scikit-learn style: "
        "178 samples, 13 features, classes class_0, class_1, class_2), no header row: the columns "
        "are named column 1 to column 14.")


def test_metadata_line_followed_by_a_header_keeps_the_header():
    ds = D.load_csv("2,2,no,yes\nf1,f2,label\n1,2,0\n3,4,1\n", "label")
    assert ds.feature_names == ["f1", "f2"]
    assert "its field count differs from the rows below" in ds.meta["dialect"]
    np.testing.assert_array_equal(ds.X, np.array([[1, 2], [3, 4]], dtype=np.float32))


def test_first_row_of_numbers_is_still_refused_without_a_metadata_line():
    with pytest.raises(ValueError, match="the first row must be a header of column names"):
        D.load_csv("2,1\n3,4\n5,6\n", 0)


# ------------------------------------------------------- refusals: row, column, rule

@pytest.mark.parametrize("quote", ["", '"'])
def test_field_over_the_csv_field_limit_is_refused_with_row_and_column(quote):
    big = quote + "7" * 200_000 + quote
    with pytest.raises(ValueError) as info:
        D.load_csv(f"a,text,label\n1,2,x\n3,{big},y\n", "label")
    assert str(info.value).startswith("column 'text', row 3: the field holds more than 131,072 characters")


def test_field_over_the_limit_in_the_header():
    with pytest.raises(ValueError, match=r"column 'column 2', row 1: the field holds more than"):
        D.load_csv("a," + "b" * 200_000 + "\n1,2\n3,4\n", 0)


@pytest.mark.parametrize("text, label, message", [
    (_lines("a,b,label\n1,2,x\n3,oops,y\n", "\r"), "label", "column 'b', row 3: 'oops' must be a number"),
    ("a;b;label\n1,5;2,25;x\n3;abc;y\n", "label", "column 'b', row 3: 'abc' must be a number"),
    ("a;b;label\n1,5;2,25;x\n3;4.5;y\n", "label",
     "column 'b', row 3: '4.5' must be a number written with a decimal comma"),
    ("a\tb\tlabel\n1\t2\tx\n\n3\t\ty\n", "label", "column 'b', row 4: empty cell must be a number"),
    ("a,b,label\n1,2,x\n3,4\n", "label",
     "row 3 has 2 values but the header has 3 columns (column 'label' has no value)"),
    ("a,b,label\n1,2,x\n3,4,y,5\n", "label",
     "row 3 has 4 values but the header has 3 columns (column 4 holds '5' but has no name)"),
    ('a,b,label\n1,2,x\n3,"4,y\n5,6,x\n', "label", "column 'b' holds a line break: is a quote left open?"),
    ("4,2,c0,c1\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n", -1, "column 'column 2', row 3: 'x' must be a number"),
])
def test_refusals_name_row_column_and_rule(text, label, message):
    with pytest.raises(ValueError) as info:
        D.load_csv(text, label)
    assert message in str(info.value)
