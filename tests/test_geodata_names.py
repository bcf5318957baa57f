"""Issue 9b: Russian and Belarusian names are picked by spelling rules, or left null."""

import pytest

from geodata import build


@pytest.mark.parametrize(("country", "name", "alternates", "ru", "be"), [
    # Ukrainian Мозир (и for Belarusian ы) is not Russian; Мозырь has ы and a soft р
    ("BY", "Mazyr", ["Мазыр", "Мозир", "Мозырь"], "Мозырь", "Мазыр"),
    # akanye: Новополоцк is the Russian side of the pair, Наваполацк the Belarusian
    ("BY", "Novopolotsk", ["Наваполацк", "Новополоцк", "Новополоцьк"], "Новополоцк", "Наваполацк"),
    ("BY", "Rechytsa", ["Речица", "Рэчыца"], "Речица", "Рэчыца"),
    ("BY", "Pinsk", ["Пинск", "Пінск", "Пінськ"], "Пинск", "Пінск"),
    ("BY", "Orsha", ["Орша"], "Орша", "Орша"),
    # a Belarusian form in Russian letters (чы) is neither language's Russian form
    ("BY", "Kalinkovichi", ["Калинкавичы", "Калинковичи"], "Калинковичи", None),
    # two forms no letter tells apart: null, not a guess
    ("BY", "Kobryn", ["Кобрин", "Кобринь", "Кобрын"], None, "Кобрын"),
    ("RU", "Tula", ["Тула", "Туло"], "Тула", None),
    ("RU", "Klintsy", ["Клинтси", "Клинци", "Клинцы", "Клинці", "Клінцы"], "Клинцы", "Клінцы"),
])
def test_names_by_spelling_rules(country, name, alternates, ru, be):
    names = build.place_names(country, name, alternates, None)
    assert (names["name_ru"], names["name_be"]) == (ru, be)


def test_russian_side_of_a_spelling_pair():
    assert build.russian_side("Новогрудок", "Навагрудак") == 1
    assert build.russian_side("Сянно", "Сенно") == -1
    assert build.russian_side("Кобрин", "Кобринь") == 0
