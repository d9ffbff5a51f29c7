"""What every page shares: head, foot, the basket and warning blocks, a price block."""

from __future__ import annotations

from functools import lru_cache

STARS = '                    <i class="icon-star"></i>\n' * 5


def head(prefix: str, title_block: str, meta: str) -> str:
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
def foot(prefix: str, search: bool) -> str:
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


WARNING = ('<div class="alert alert-warning" role="alert"><strong>Warning!</strong> '
            "This is a demo website for web scraping purposes. Prices and ratings here were "
            "randomly assigned and have no real meaning.</div>")

BASKET = """









    <form>
        <button type="submit" class="btn btn-primary btn-block" \
data-loading-text="Adding...">Add to basket</button>
    </form>



            </div>

    </article>

</li>
"""


def price_block(price: str, availability: str) -> str:
    return f"""






        <p class="price_color">£{price}</p>


<p class="instock availability">
    <i class="icon-ok"></i>

        {availability}

</p>
"""


