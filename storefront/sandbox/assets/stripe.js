/*
 * Storefront's offline stand-in for https://js.stripe.com/endive/stripe.js: the part of the
 * Stripe.js contract the shop uses (https://docs.stripe.com/js), talking to the sandbox's API.
 *   Stripe(publishableKey, options)
 *   stripe.confirmTwintPayment(clientSecret, data, {handleActions})
 *   stripe.retrievePaymentIntent(clientSecret)
 * Each resolves to {paymentIntent} or {error}; a malformed client secret throws IntegrationError.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var apiBase = new URL("..", script ? script.src : window.location.href).href.replace(/\/$/, "");
  var SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;

  function IntegrationError(message) {
    var error = new Error(message);
    error.name = "IntegrationError";
    return error;
  }

  function intentId(method, clientSecret) {
    var match = typeof clientSecret === "string" ? SECRET.exec(clientSecret) : null;
    if (!match) {
      throw IntegrationError(
        "Invalid value for " + method + ": intent secret should be a client secret of the form " +
        "${id}_secret_${secret}. You specified: " + String(clientSecret) + "."
      );
    }
    return match[1];
  }

  function encode(prefix, value, pairs) {
    if (value === undefined || value === null) return pairs;
    if (Array.isArray(value)) {
      value.forEach(function (item, index) { encode(prefix + "[" + index + "]", item, pairs); });
    } else if (typeof value === "object") {
      Object.keys(value).forEach(function (key) {
        encode(prefix ? prefix + "[" + key + "]" : key, value[key], pairs);
      });
    } else {
      pairs.push(encodeURIComponent(prefix).replace(/%5B/g, "[").replace(/%5D/g, "]") + "=" +
                 encodeURIComponent(String(value)));
    }
    return pairs;
  }

  function request(method, path, fields) {
    var body = encode("", fields, []).join("&");
    var url = apiBase + path + (method === "GET" ? "?" + body : "");
    return fetch(url, {
      method: method,
      headers: method === "POST" ? {"Content-Type": "application/x-www-form-urlencoded"} : {},
      body: method === "POST" ? body : undefined,
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (json) {
        return response.ok ? {paymentIntent: json} : {error: json.error};
      });
    }, function (failure) {
      return {error: {type: "api_connection_error", message: "Could not reach Stripe: " + failure.message}};
    });
  }

  function Stripe(key, options) {
    if (!(this instanceof Stripe)) return new Stripe(key, options);
    if (typeof key !== "string" || !/^pk_(test|live)_/.test(key)) {
      throw IntegrationError("Invalid value for Stripe(): apiKey should be a publishable key (pk_...).");
    }
    this._key = key;
    this._options = options || {};
  }

  Stripe.prototype.confirmTwintPayment = function (clientSecret, data, options) {
    var id = intentId("confirmTwintPayment", clientSecret);
    var params = {key: this._key, client_secret: clientSecret};
    data = data || {};
    if (typeof data.payment_method === "string") {
      params.payment_method = data.payment_method;
    } else {
      params.payment_method_data = Object.assign({type: "twint"}, data.payment_method || {});
    }
    ["return_url", "receipt_email", "shipping", "setup_future_usage", "mandate_data"].forEach(function (name) {
      if (data[name] !== undefined) params[name] = data[name];
    });
    var handleActions = !options || options.handleActions !== false;
    return request("POST", "/v1/payment_intents/" + id + "/confirm", params).then(function (result) {
      var intent = result.paymentIntent;
      if (handleActions && intent && intent.status === "requires_action" && intent.next_action &&
          intent.next_action.type === "redirect_to_url") {
        window.location.assign(intent.next_action.redirect_to_url.url);
        return new Promise(function () {});  // the page is leaving for TWINT
      }
      return result;
    });
  };

  Stripe.prototype.retrievePaymentIntent = function (clientSecret) {
    var id = intentId("retrievePaymentIntent", clientSecret);
    return request("GET", "/v1/payment_intents/" + id, {key: this._key, client_secret: clientSecret});
  };

  window.Stripe = Stripe;
})();
