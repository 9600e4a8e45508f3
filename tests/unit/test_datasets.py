"""pipeline.training.datasets: labelled data in CSV, TSV, JSONL and PhraseBank formats."""

from __future__ import annotations

import pytest

from pipeline.errors import TrainingError
from pipeline.training.datasets import data_hash, label_ids, load_labelled, parse_label_map


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def pairs(frame):
    return list(zip(frame["text"], frame["label"], strict=True))


def test_csv_with_word_labels(tmp_path):
    path = write(tmp_path / "d.csv", 'sentence,label\n"Profit fell, sharply",negative\n'
                                     "Sales flat,Neutral\nRecord quarter,POSITIVE\n")
    assert pairs(load_labelled(path)) == [
        ("Profit fell, sharply", "negative"), ("Sales flat", "neutral"),
        ("Record quarter", "positive")]


def test_tsv(tmp_path):
    path = write(tmp_path / "d.tsv", "text\tsentiment\nProfit fell, sharply\tnegative\n"
                                     "Record quarter\tpositive\n")
    assert pairs(load_labelled(path)) == [
        ("Profit fell, sharply", "negative"), ("Record quarter", "positive")]


def test_jsonl(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"headline": "Profit fell", "label": "negative"}\n'
                                       '{"headline": "Record quarter", "label": "positive"}\n')
    assert pairs(load_labelled(path)) == [("Profit fell", "negative"), ("Record quarter", "positive")]


def test_phrasebank_txt(tmp_path):
    path = write(tmp_path / "Sentences_AllAgree.txt",
                 "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn .@positive\n"
                 "Contact: ir@example.com remains the address .@neutral\n"
                 "\n")
    assert pairs(load_labelled(path)) == [
        ("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn .", "positive"),
        ("Contact: ir@example.com remains the address .", "neutral")]


def test_bearish_bullish_labels(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\nSell everything,Bearish\nTo the moon,bullish\n")
    assert pairs(load_labelled(path)) == [("Sell everything", "negative"), ("To the moon", "positive")]


def test_integer_labels_without_map_name_row_and_hint(tmp_path):
    path = write(tmp_path / "d.csv", "sentence,label\nProfit fell,0\nRecord quarter,1\n")
    with pytest.raises(TrainingError) as info:
        load_labelled(path)
    message = str(info.value)
    assert str(path) in message
    assert "row 2" in message  # the first data line, after the header
    assert "--label-map" in message


def test_integer_labels_with_map(tmp_path):
    path = write(tmp_path / "d.csv", "sentence,label\nProfit fell,0\nRecord quarter,1\nFlat,2\n")
    frame = load_labelled(path, label_map=parse_label_map("0=negative,1=positive,2=neutral"))
    assert pairs(frame) == [("Profit fell", "negative"), ("Record quarter", "positive"),
                            ("Flat", "neutral")]


def test_integer_labels_in_jsonl_with_map(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "Profit fell", "label": 0}\n'
                                       '{"text": "Record quarter", "label": 1}\n')
    frame = load_labelled(path, label_map=parse_label_map("0=negative,1=positive"))
    assert pairs(frame) == [("Profit fell", "negative"), ("Record quarter", "positive")]


def test_unknown_label_names_file_and_row(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\nA fine day,neutral\nOdd one,bad\n")
    with pytest.raises(TrainingError) as info:
        load_labelled(path)
    assert f"{path} row 3" in str(info.value)
    assert "'bad'" in str(info.value)
    assert "--label-map" not in str(info.value)  # the hint is for integer labels only


def test_unknown_label_row_in_jsonl_is_the_line_number(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "A fine day", "label": "neutral"}\n'
                                       '{"text": "Odd one", "label": "bad"}\n')
    with pytest.raises(TrainingError, match=r"row 2\b"):
        load_labelled(path)


def test_directory_reads_every_supported_file(tmp_path):
    write(tmp_path / "a.csv", "text,label\nProfit fell,negative\n")
    write(tmp_path / "b.jsonl", '{"text": "Record quarter", "label": "positive"}\n')
    write(tmp_path / "README.md", "not data")
    assert sorted(pairs(load_labelled(tmp_path))) == [
        ("Profit fell", "negative"), ("Record quarter", "positive")]


def test_blank_texts_and_exact_duplicates_dropped(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\nProfit fell,negative\n  ,neutral\n"
                                     "Profit fell,negative\nProfit fell,neutral\n")
    assert pairs(load_labelled(path)) == [("Profit fell", "negative"), ("Profit fell", "neutral")]


def test_explicit_text_column(tmp_path):
    path = write(tmp_path / "d.csv", "body,label\nProfit fell,negative\n")
    with pytest.raises(TrainingError, match="no text column"):
        load_labelled(path)
    assert pairs(load_labelled(path, text_col="body")) == [("Profit fell", "negative")]


def test_missing_label_column_and_missing_path(tmp_path):
    with pytest.raises(TrainingError, match="no label column"):
        load_labelled(write(tmp_path / "d.csv", "text,score\nProfit fell,0.2\n"))
    with pytest.raises(TrainingError, match="no training data"):
        load_labelled(tmp_path / "absent.csv")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(TrainingError, match="no training data"):
        load_labelled(empty)


def test_parse_label_map():
    assert parse_label_map("0=negative, 1=positive,2=Neutral") == {
        "0": "negative", "1": "positive", "2": "neutral"}
    assert parse_label_map("-1=bearish,1=bullish") == {"-1": "negative", "1": "positive"}
    assert parse_label_map(None) == {} and parse_label_map("") == {}


@pytest.mark.parametrize("spec", ["0negative", "0=bad", "0=negative,1"])
def test_parse_label_map_errors(spec):
    with pytest.raises(TrainingError, match="--label-map: bad label map entry"):
        parse_label_map(spec)


def test_data_hash_is_order_independent_and_label_ids(tmp_path):
    a = load_labelled(write(tmp_path / "a.csv", "text,label\nX,negative\nY,positive\n"))
    b = load_labelled(write(tmp_path / "b.csv", "text,label\nY,positive\nX,negative\n"))
    c = load_labelled(write(tmp_path / "c.csv", "text,label\nY,positive\nX,neutral\n"))
    assert data_hash(a) == data_hash(b) != data_hash(c)
    assert label_ids(a["label"]) == [0, 2]


def test_a_folder_leaves_its_revision_logs_out(tmp_path):
    from pipeline.training.corpus import assign_splits

    write(tmp_path / "rows.csv", "text,label\nAcme beats estimates,positive\n")
    (tmp_path / "revisions").mkdir()
    log = write(tmp_path / "revisions" / "r2.csv",
                "file,text,entity,old_label,new_label,rule\nrows.csv,Acme beats,,neutral,positive,A7\n")
    assert pairs(load_labelled(tmp_path)) == [("Acme beats estimates", "positive")]
    assert assign_splits(tmp_path) == {"rows.csv": 1}
    assert "split" not in log.read_text()
