"""HTML of the site, page for page, as precompiled string templates (fast: no template engine).

Whitespace and markup follow the saved real pages; ``prefix`` is the relative path back to the
site root, which is how the real site's links differ by page depth.
"""

from __future__ import annotations

from functools import lru_cache

from .catalogue import PER_PAGE, RATING_WORDS, Book, Catalogue
from .text import esc, esc_text, truncate_words

_STARS = '                    <i class="icon-star"></i>\n' * 5


def _head(prefix: str, title_block: str, meta: str) -> str:
    return f"""<!DOCTYPE html>
<!--[if lt IE 7]>      <html lang="en-us" class="no-js lt-ie9 lt-ie8 lt-ie7"> <![endif]-->
<!--[if IE 7]>         <html lang="en-us" class="no-js lt-ie9 lt-ie8"> <![endif]-->
<!--[if IE 8]>         <html lang="en-us" class="no-js lt-ie9"> <![endif]-->
<!--[if gt IE 8]><!--> <html lang="en-us" class="no-js"> <!--<![endif]-->
    <head>
        <title>
{title_block}
</title>

        <meta http-equiv="content-type" content="text/html; charset=UTF-8" />
        <meta name="created" content="24th Jun 2016 09:29" />
        <meta name="description" content="{meta}" />
        <meta name="viewport" content="width=device-width" />
        <meta name="robots" content="NOARCHIVE,NOCACHE" />

        <!-- Le HTML5 shim, for IE6-8 support of HTML elements -->
        <!--[if lt IE 9]>
        <script src="//html5shim.googlecode.com/svn/trunk/html5.js"></script>
        <![endif]-->


            <link rel="shortcut icon" href="{prefix}static/oscar/favicon.ico" />






        <link rel="stylesheet" type="text/css" href="{prefix}static/oscar/css/styles.css" />

    <link rel="stylesheet" \
href="{prefix}static/oscar/js/bootstrap-datetimepicker/bootstrap-datetimepicker.css" />
    <link rel="stylesheet" type="text/css" href="{prefix}static/oscar/css/datetimepicker.css" />












    </head>

    <body id="default" class="default">




    <header class="header container-fluid">
        <div class="page_inner">
            <div class="row">
                <div class="col-sm-8 h1"><a href="{prefix}index.html">Books to \
Scrape</a><small> We love being scraped!</small>
</div>


            </div>
        </div>
    </header>



"""


@lru_cache(maxsize=8)
def _foot(prefix: str, search: bool) -> str:
    init = "\n    oscar.init();\n"
    if search:
        init += "\n    oscar.search.init();\n"
    return f"""


<footer class="footer container-fluid">



</footer>





            <!-- jQuery -->
            <script src="http://ajax.googleapis.com/ajax/libs/jquery/1.9.1/jquery.min.js"></script>
            <script>window.jQuery || document.write('<script \
src="{prefix}static/oscar/js/jquery/jquery-1.9.1.min.js"><\\/script>')</script>








    <!-- Twitter Bootstrap -->
    <script type="text/javascript" \
src="{prefix}static/oscar/js/bootstrap3/bootstrap.min.js"></script>
    <!-- Oscar -->
    <script src="{prefix}static/oscar/js/oscar/ui.js" type="text/javascript" \
charset="utf-8"></script>

    <script src="{prefix}static/oscar/js/bootstrap-datetimepicker/bootstrap-datetimepicker.js" \
type="text/javascript" charset="utf-8"></script>
    <script \
src="{prefix}static/oscar/js/bootstrap-datetimepicker/locales/bootstrap-datetimepicker.all.js" \
type="text/javascript" charset="utf-8"></script>










        <script type="text/javascript">
            $(function() {{


    {init}
            }});
        </script>


        <!-- Version: N/A -->

    </body>
</html>"""


_WARNING = ('<div class="alert alert-warning" role="alert"><strong>Warning!</strong> '
            "This is a demo website for web scraping purposes. Prices and ratings here were "
            "randomly assigned and have no real meaning.</div>")

_BASKET = """









    <form>
        <button type="submit" class="btn btn-primary btn-block" \
data-loading-text="Adding...">Add to basket</button>
    </form>



            </div>

    </article>

</li>
"""


def _price_block(price: str, availability: str) -> str:
    return f"""






        <p class="price_color">£{price}</p>


<p class="instock availability">
    <i class="icon-ok"></i>

        {availability}

</p>
"""


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
{_STARS}                </p>




            <h3><a href="{link}" title="{title}">{esc(truncate_words(book.title))}</a></h3>



            <div class="product_price">

{_price_block(book.price, "In stock")}{_BASKET}"""


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
            {_WARNING}

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
    return (lead + _head(prefix, title_block, meta) + body + _foot(prefix, True)).encode()


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


def render_book(cat: Catalogue, book_id: int, variant: str | None = None) -> bytes:
    """A book page. variant: None, "no_price" (price missing) or "bad_rating" (garbled class)."""
    b = cat.book(book_id)
    t = esc(b.title)
    stock = f"In stock ({b.availability} available)"
    rating = RATING_WORDS[b.rating - 1]
    if variant == "bad_rating":
        rating = rating[::-1].lower() + "-star"
    price_block = _price_block(b.price, stock)
    price_rows = f"""            <tr>
                <th>Price (excl. tax)</th><td>£{b.price}</td>
            </tr>

                <tr>
                    <th>Price (incl. tax)</th><td>£{b.price}</td>
                </tr>
                <tr>
                    <th>Tax</th><td>£0.00</td>
                </tr>

"""
    if variant == "no_price":
        price_block = price_block.replace(f'<p class="price_color">£{b.price}</p>', "")
        price_rows = ""
    if b.description_raw is None:
        meta, desc = "\n    \n", ""
    else:
        meta = f"\n    {esc(b.description_raw)}\n"
        desc = f"""        <div id="product_description" class="sub-header">
            <h2>Product Description</h2>
        </div>
        <p>{esc_text(b.description_raw)}</p>
        """
    c = b.category
    review_href = f"/catalogue/{b.slug}_{b.id}/reviews/"
    body = f"""        <div class="container-fluid page">
            <div class="page_inner">

<ul class="breadcrumb">
    <li>
        <a href="../../index.html">Home</a>
    </li>


        <li>
            <a href="../category/books_1/index.html">Books</a>
        </li>

        <li>
            <a href="../category/books/{c.path_slug}/index.html">{esc(c.name)}</a>
        </li>

        <li class="active">{t}</li>




</ul>







<div id="messages">

</div>


                <div class="content">



                    <div id="promotions">

                    </div>


                    <div id="content_inner">

<article class="product_page"><!-- Start of product page -->

    <div class="row">


        <div class="col-sm-6">










        <div id="product_gallery" class="carousel">
            <div class="thumbnail">
                <div class="carousel-inner">
                    <div class="item active">


                            <img src="../../{b.image_path}" alt="{t}" />


                    </div>
                </div>
            </div>
        </div>




        </div>



        <div class="col-sm-6 product_main">


            <h1>{t}</h1>



{price_block}







    <p class="star-rating {rating}">
        <i class="icon-star"></i>
        <i class="icon-star"></i>
        <i class="icon-star"></i>
        <i class="icon-star"></i>
        <i class="icon-star"></i>

        <!-- <small><a href="{review_href}">


                    0 customer reviews

        </a></small>
         -->&nbsp;


<!--
    <a id="write_review" href="{review_href}add/#addreview" class="btn btn-success btn-sm">
        Write a review
    </a>

 --></p>



            <hr/>

            {_WARNING}











        </div><!-- /col-sm-6 -->


    </div><!-- /row -->



{desc}



    <div class="sub-header">
        <h2>Product Information</h2>
    </div>
    <table class="table table-striped">

        <tr>
            <th>UPC</th><td>{b.upc}</td>
        </tr>

        <tr>
            <th>Product Type</th><td>Books</td>
        </tr>



{price_rows}            <tr>
                <th>Availability</th>
                <td>{stock}</td>
            </tr>



            <tr>
                <th>Number of reviews</th>
                <td>0</td>
            </tr>

    </table>




        <section>
            <div id="reviews" class="sub-header">
            </div>
        </section>















</article><!-- End of product page -->
</div>
                </div>
            </div>
        </div>

"""
    head = "\n\n" + _head("../../", f"    {t} | Books to Scrape - Sandbox", meta)
    return (head + body + _foot("../../", False)).encode()
