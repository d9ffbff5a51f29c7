"""A book page, with the variants the faults ask for (no price, a garbled rating)."""

from __future__ import annotations

from ..catalogue import RATING_WORDS, Catalogue
from ..text import esc, esc_text
from .frame import WARNING, foot, head, price_block


def render_book(cat: Catalogue, book_id: int, variant: str | None = None) -> bytes:
    """A book page. variant: None, "no_price" (price missing) or "bad_rating" (garbled class)."""
    b = cat.book(book_id)
    t = esc(b.title)
    stock = f"In stock ({b.availability} available)"
    rating = RATING_WORDS[b.rating - 1]
    if variant == "bad_rating":
        rating = rating[::-1].lower() + "-star"
    prices = price_block(b.price, stock)
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
        prices = prices.replace(f'<p class="price_color">£{b.price}</p>', "")
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



{prices}







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

            {WARNING}











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
    top = "\n\n" + head("../../", f"    {t} | Books to Scrape - Sandbox", meta)
    return (top + body + foot("../../", False)).encode()
