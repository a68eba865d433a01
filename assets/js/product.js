/* The product page's price follows the chosen option (each option carries its price). Listens on
   the document, so it keeps working after htmx swaps the form. Without JavaScript the page shows
   the first available option's price and every option's price beside it. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var choice = event.target;
    var price = document.getElementById("product-price");
    if (price && choice.name === "variant_id" && choice.dataset.price) price.textContent = choice.dataset.price;
  });
})();
