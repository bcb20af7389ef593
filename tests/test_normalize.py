from assistant.text import Normalizer, detect_language


def span_of(norm, needle):
    i = norm.text.index(needle)
    s, e = norm.original_span(i, i + len(needle))
    return norm.original[s:e]


def test_asr_spaces_between_chinese_removed_and_offsets_kept():
    norm = Normalizer()("你 不 还 钱 就 等 着 坐 牢")
    assert norm.text == "你不还钱就等着坐牢"
    assert span_of(norm, "坐牢") == "坐 牢"


def test_traditional_to_simplified_keeps_offsets():
    norm = Normalizer()("我們會聯繫你們單位")
    assert norm.text == "我们会联系你们单位"
    assert span_of(norm, "单位") == "單位"


def test_full_width_to_half_width_and_case_folding():
    norm = Normalizer()("ＣＡＬＬ ｙｏｕｒ BOSS，好吗")
    assert norm.text.startswith("call your boss,")
    assert span_of(norm, "boss") == "BOSS"


def test_english_spaces_are_kept_but_folded():
    assert Normalizer()("we  will   call\tyou").text == "we will call you"


def test_homophone_replacement_maps_to_original():
    norm = Normalizer({"作牢": "坐牢"})("等着作牢吧")
    assert "坐牢" in norm.text
    assert span_of(norm, "坐牢") == "作牢"


def test_replacement_of_different_length():
    norm = Normalizer({"gonna": "going to"})("we're gonna sue")
    assert norm.text == "we're going to sue"
    assert span_of(norm, "going to") == "gonna"


def test_empty_and_whitespace_only():
    assert Normalizer()("").text == ""
    assert Normalizer()("   ").text == ""


def test_detect_language():
    assert detect_language("你好，请问是张先生吗") == "zh"
    assert detect_language("Is this Mr. Zhang?") == "en"
    assert detect_language("我的 app 账号") == "zh"
