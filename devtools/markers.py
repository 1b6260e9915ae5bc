"""Generated text inside hand-written pages: what stands between `<!-- name -->` and
`<!-- /name -->` is replaced, the prose around it kept."""


def between_markers(content, marker, text):
    """`content` with what stands between `<!-- <marker> -->` and `<!-- /<marker> -->` replaced
    by `text`; None when `content` lacks the opening marker."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start not in content:
        return None
    before, rest = content.split(start, 1)
    return f"{before}{start}\n{text}\n{end}{rest.split(end, 1)[1]}"
