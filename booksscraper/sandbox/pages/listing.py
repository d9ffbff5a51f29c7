"""Listing pages: the home page, the catalogue pages and the category pages."""

from __future__ import annotations

from functools import lru_cache

from ..catalogue import PER_PAGE, RATING_WORDS, Book, Catalogue
from ..text import esc, truncate_words
from .frame import BASKET, STARS, WARNING, foot, head, price_block


def product_pod(book: Book, link_prefix: str, media_prefix: str) -> str:
    """One book in a listing: link text cut to four words, the full title in title=."""
    link = f"{link_prefix}{book.slug}_{book.id}/index.html"
    title = esc(book.title)
    return f"""
                        <li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">






    <article class="product_pod">

            <div class="image_container">


                    <a href="{link}"><img src="{media_prefix}{book.thumb_path}" alt="{title}" \
class="thumbnail"></a>


            </div>




                <p class="star-rating {RATING_WORDS[book.rating - 1]}">
{STARS}                </p>




            <h3><a href="{link}" title="{title}">{esc(truncate_words(book.title))}</a></h3>



            <div class="product_price">

{price_block(book.price, "In stock")}{BASKET}"""


def _sidebar_item(href: str, name: str, active: bool) -> str:
    label = f"<strong>{esc(name)}</strong>" if active else esc(name)
    return f"""
                    <li>
                        <a href="{href}">

                                {label}

                        </a>

                        </li>
"""


@lru_cache(maxsize=256)
def _sidebar(cat: Catalogue, books_href: str, cat_prefix: str, active: int | None) -> str:
    """The 50-category sidebar; cat_prefix + "<slug>_<id>/index.html" links a category."""
    items = "".join(
        _sidebar_item("index.html" if i == active else f"{cat_prefix}{c.path_slug}/index.html",
                      c.name, i == active)
        for i, c in enumerate(cat.categories)
    )
    books_label = "<strong>Books</strong>" if active == -1 else "Books"
    return f"""                <div id="promotions_left">

                </div>




        <div class="side_categories">
            <ul class="nav nav-list">

                    <li>
                        <a href="{books_href}">

                                {books_label}

                        </a>

                        <ul>

{items}
                            </ul></li>


            </ul>
        </div>


"""


def _results(count: int, page: int, pages: int) -> str:
    if count == 0:
        return "<p>No products found.</p>"
    if pages == 1:
        return f"<strong>{count}</strong> result{'s' if count != 1 else ''}."
    start = (page - 1) * PER_PAGE + 1
    end = min(page * PER_PAGE, count)
    return (f"<strong>{count}</strong> results - showing <strong>{start}</strong> to "
            f"<strong>{end}</strong>.")


def _pager(page: int, pages: int, href_prefix: str, first_href: str) -> str:
    if pages <= 1:
        return ""
    prev = next_ = ""
    if page > 1:
        target = first_href if page == 2 and first_href else f"{href_prefix}page-{page - 1}.html"
        prev = (f'\n                <li class="previous"><a href="{target}">previous</a></li>'
                "\n            ")
    if page < pages:
        next_ = (f'\n                <li class="next"><a href="{href_prefix}page-{page + 1}.html">'
                 "next</a></li>\n            ")
    return f"""


    <div>
        <ul class="pager">
            {prev}
            <li class="current">

                Page {page} of {pages}

            </li>
            {next_}
        </ul>
    </div>
"""


def _listing(cat: Catalogue, ids, page: int, *, prefix: str, title: str, crumbs: str, sidebar: str,
             link_prefix: str, pager_prefix: str, first_href: str = "") -> bytes | None:
    count = len(ids)
    pages = cat.pages(count)
    if not 1 <= page <= pages:
        return None
    start = (page - 1) * PER_PAGE
    pods = "".join(product_pod(cat.book(i), link_prefix, prefix)
                   for i in ids[start:start + PER_PAGE])
    h = esc(title)
    title_block = (f"    {h} | Books to Scrape - Sandbox" if title == "All products"
                   else f"    {h} | \n     Books to Scrape - Sandbox\n")
    body = f"""<div class="container-fluid page">
    <div class="page_inner">

    <ul class="breadcrumb">
        <li>
            <a href="{prefix}index.html">Home</a>
        </li>
{crumbs}    </ul>

        <div class="row">

            <aside class="sidebar col-sm-4 col-md-3">

{sidebar}
            </aside>

            <div class="col-sm-8 col-md-9">

                <div class="page-header action">
                    <h1>{h}</h1>
                </div>






<div id="messages">

</div>


                <div id="promotions">

                </div>


    <form method="get" class="form-horizontal">

        <div style="display:none">


        </div>




                    {_results(count, page, pages)}




    </form>

        <section>
            {WARNING}

            <div>
                <ol class="row">
{pods}
                </ol>

{_pager(page, pages, pager_prefix, first_href)}

            </div>
        </section>




            </div>

        </div><!-- /row -->
    </div><!-- /page_inner -->
</div><!-- /container-fluid -->
"""
    # As saved from the real site: the home page starts at <!DOCTYPE, category pages after two
    # blank lines, and only category pages have a (blank) multi-line meta description.
    lead, meta = ("", "") if title == "All products" else ("\n\n", "\n    \n")
    return (lead + head(prefix, title_block, meta) + body + foot(prefix, True)).encode()


def render_home(cat: Catalogue) -> bytes:
    """`/` and `/index.html`: page 1 of the catalogue, links one level shallower."""
    return _catalogue_page(cat, 1, home=True)  # type: ignore[return-value]


def render_listing(cat: Catalogue, page: int) -> bytes | None:
    """`/catalogue/page-N.html`."""
    return _catalogue_page(cat, page, home=False)


def _catalogue_page(cat: Catalogue, page: int, home: bool) -> bytes | None:
    p = "" if home else "../"
    c = "catalogue/" if home else ""
    return _listing(
        cat, cat.live_ids(), page, prefix=p, title="All products",
        crumbs='        <li class="active">All products</li>\n',
        sidebar=_sidebar(cat, f"{c}category/books_1/index.html", f"{c}category/books/", None),
        link_prefix=c, pager_prefix=c,
    )


def render_all_books(cat: Catalogue, page: int) -> bytes | None:
    """`/catalogue/category/books_1/index.html` (and page-N.html): the "Books" category."""
    return _listing(
        cat, cat.live_ids(), page, prefix="../../../", title="Books",
        crumbs='        <li class="active">Books</li>\n',
        sidebar=_sidebar(cat, "index.html", "../books/", -1),
        link_prefix="../../", pager_prefix="",
    )


def render_category(cat: Catalogue, index: int, page: int) -> bytes | None:
    """`/catalogue/category/books/<slug>_<id>/index.html` (and page-N.html)."""
    category = cat.categories[index]
    crumbs = """
            <li>
                <a href="../../books_1/index.html">Books</a>
            </li>

"""
    return _listing(
        cat, cat.category_ids(index), page, prefix="../../../../", title=category.name,
        crumbs=crumbs + f'        <li class="active">{esc(category.name)}</li>\n',
        sidebar=_sidebar(cat, "../../books_1/index.html", "../", index),
        link_prefix="../../../", pager_prefix="",
    )


