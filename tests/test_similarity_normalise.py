"""The ast normalisation undoes a copier's cheap disguises, and falls back to tokens where a cell does not parse."""

from __future__ import annotations

from course_staff.written.similarity import fingerprints as fp

SOURCE = '''import torch
def scores(xs, k):
    out = []
    for x in xs:
        if x > 0:
            out.append(x * 2)
    total = 0
    for x in xs:
        total += x ** 2
    y = torch.zeros(3)
    z = torch.ones(4)
    return out, total, y + z
res = scores([1, 2, 3], 5)
print(res)
'''
DISGUISED = '''import torch
def g(values, kk):
    junk1 = (0)
    result = [(v * (2)) for v in values if v > (0)]
    s = sum(v ** (2) for v in values)
    zz = torch.ones((4))
    yy = torch.zeros((1 + 2))
    (s)
    return result, s, yy + zz
answer = g([(1), (2), (3)], (5))
junk2 = answer
print(answer)
'''


def test_renaming_reordering_wrapping_junk_and_comprehensions_change_no_fingerprint():
    assert set(fp.winnow(SOURCE)) == set(fp.winnow(DISGUISED)) and len(fp.winnow(SOURCE)) > 20


def test_a_different_program_shares_little():
    other = """import torch
def train(model, data, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in data:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    return model
"""
    shared = set(fp.winnow(SOURCE)) & set(fp.winnow(other))
    assert len(shared) < len(fp.winnow(SOURCE)) / 4


def test_a_cell_that_does_not_parse_uses_the_token_path_and_magics_are_blanked():
    broken = "for x in range(10)\n    print(x + 1, x * 2, x - 3)\n"
    assert fp.winnow(broken) == fp.winnow_tokens(fp.code_tokens(broken))
    magic = "%matplotlib inline\n!pip install x\n" + SOURCE
    lines = set().union(*fp.winnow(magic).values())
    assert set(fp.winnow(magic)) == set(fp.winnow(SOURCE)) and min(lines) >= 3  # lines of the cell kept
