"""SemEval-2023 Task 3 (subtask 3) importer, submission writer, and training on that layout."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from cadrage.data import DataError, Vocab, assign_ids, canonical_rows
from cadrage.schema import load_schema_file
from cadrage.semeval import (
    is_semeval_dir,
    read_semeval,
    read_subtask3,
    split_id,
    write_subtask3,
)

FIXTURE = ROOT / "tests" / "fixtures" / "semeval" / "fr"
ARTICLES = FIXTURE / "dev-articles-subtask-3"
LABELS = FIXTURE / "dev-labels-subtask-3.txt"


def test_reads_the_task_layout():
    rows = read_semeval(ARTICLES)
    assert is_semeval_dir(ARTICLES)
    assert len(rows) == 18  # 3 articles x (title + 5 paragraphs); blank lines are not paragraphs
    by_id = {r["id"]: r for r in rows}
    # line numbers count blank lines: the title is line 1, the first paragraph line 3
    assert by_id["90001-1"]["text"] == "Gazoduc du Nord : Bruxelles hésite, Moscou s'impatiente"
    assert by_id["90001-3"]["text"].startswith("Les ministres de l'Énergie")
    assert by_id["90001-5"]["techniques"] == ["Name_Calling-Labeling", "Loaded_Language", "Exaggeration-Minimisation"]
    assert by_id["90001-5"]["loaded"] == 1
    assert by_id["90001-3"]["techniques"] == [] and by_id["90001-3"]["loaded"] == 0
    assert by_id["90002-7"]["text"].startswith("« Une provocation délibérée")
    assert {r["article_id"] for r in rows} == {"90001", "90002", "90003"}
    assert all(r["stance"] is None and r["voice"] is None for r in rows)
    # the rows pass the project's validation unchanged
    canonical = assign_ids(canonical_rows(rows, Vocab.from_schema_file(load_schema_file())))
    assert [r["id"] for r in canonical] == [r["id"] for r in rows]


def test_labels_file_or_flat_folder_give_the_same_rows(tmp_path):
    expected = read_semeval(ARTICLES)
    assert read_semeval(LABELS) == expected
    flat = tmp_path / "flat"
    shutil.copytree(ARTICLES, flat)
    shutil.copy(LABELS, flat / "dev-labels-subtask-3.txt")
    assert read_semeval(flat) == expected


def test_unlisted_paragraphs_are_unlabelled_not_negative(tmp_path):
    folder = tmp_path / "x-articles-subtask-3"
    folder.mkdir()
    (folder / "article7.txt").write_text("Titre\n\nPremier paragraphe.\r\n\nSecond paragraphe.\n", encoding="utf-8")
    (tmp_path / "x-labels-subtask-3.txt").write_text("7\t1\t\n7\t3\tDoubt\n", encoding="utf-8")
    rows = {r["id"]: r for r in read_semeval(folder)}
    assert rows["7-1"]["techniques"] == [] and rows["7-3"]["techniques"] == ["Doubt"]
    assert rows["7-3"]["text"] == "Premier paragraphe."
    assert rows["7-5"]["techniques"] is None and rows["7-5"]["loaded"] is None
    # without any labels file (the task's test articles) every paragraph is unlabelled
    (tmp_path / "x-labels-subtask-3.txt").unlink()
    assert all(r["techniques"] is None for r in read_semeval(folder))


def test_bad_layouts_are_clear_errors(tmp_path):
    folder = tmp_path / "y-articles-subtask-3"
    folder.mkdir()
    with pytest.raises(DataError, match="no article"):
        read_semeval(folder)
    (folder / "article1.txt").write_text("Titre\n\nTexte.\n", encoding="utf-8")
    labels = tmp_path / "y-labels-subtask-3.txt"
    labels.write_text("1\t2\tDoubt\n", encoding="utf-8")  # line 2 is blank
    with pytest.raises(DataError, match="line 2 is labelled but that line is empty"):
        read_semeval(folder)
    labels.write_text("1;3;Doubt\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected '<article id>"):
        read_semeval(folder)
    labels.write_text("1\t3\tNot_A_Technique\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown technique"):
        canonical_rows(read_semeval(folder), Vocab.from_schema_file(load_schema_file()))
    with pytest.raises(DataError, match="no such file"):
        read_semeval(tmp_path / "nothing")


def test_submission_format_round_trip(tmp_path):
    predictions = [
        {"id": "90002-3", "techniques": []},
        {"id": "90001-5", "techniques": {"Loaded_Language": 0.91, "Doubt": 0.6}},
        {"article_id": "90001", "line": 1, "techniques": ["Name_Calling-Labeling"]},
    ]
    path = write_subtask3(tmp_path / "sub" / "pred.txt", predictions)
    assert path.read_text(encoding="utf-8") == (
        "90001\t1\tName_Calling-Labeling\n"
        "90001\t5\tDoubt,Loaded_Language\n"
        "90002\t3\t\n"
    )
    assert read_subtask3(path) == {"90001-1": ["Name_Calling-Labeling"], "90001-5": ["Doubt", "Loaded_Language"], "90002-3": []}
    # the gold labels file reads with the same function
    gold = read_subtask3(LABELS)
    assert gold["90003-7"] == ["Flag_Waving", "False_Dilemma-No_Choice"] and len(gold) == 18
    assert split_id("90001-11") == ("90001", 11)
    with pytest.raises(ValueError):
        split_id("nonsense")


def test_train_accepts_the_semeval_layout(tmp_path, tracking_uri):
    from cadrage.models.loading import load_model
    from cadrage.training.config import load_config
    from cadrage.training.run import run

    techniques = "[Loaded_Language,Name_Calling-Labeling,Doubt]"
    cfg = load_config(ROOT / "configs" / "linear.yaml", [
        "data.format=semeval", f"data.train={ARTICLES}", f"data.dev={ARTICLES}", f"data.test={LABELS}",
        f"data.techniques={techniques}", f"output_dir={tmp_path / 'model'}",
    ])
    result = run(cfg)
    card = json.loads((Path(result["model_dir"]) / "cadrage.json").read_text())
    assert card["schema"]["techniques"] == ["Loaded_Language", "Name_Calling-Labeling", "Doubt"]
    # no stance or voice label in SemEval data: those heads are masked, not invented
    assert "stance_macro_f1" not in card["metrics"]["dev"] and "loaded_f1" in card["metrics"]["dev"]
    model = load_model(result["model_dir"])
    assert model.predict(["Une fois encore, les eurocrates ont préféré les palabres."]).techniques.shape == (1, 3)
