/**
 * The fiat allow-list applied to every provider's quotes before aggregation and publication:
 * active ISO-4217 currency codes, minus precious metals, funds, testing and supranational units
 * (XAU, XAG, XPT, XPD, XDR, XTS, XXX, …), plus a few non-ISO units people really trade in:
 * IRT (Iranian toman), MLC (Cuban "moneda libremente convertible"), GGP/IMP/JEP (Channel Islands
 * and Manx pounds). Crypto codes (currency-api lists hundreds), BTC itself and retired codes such as
 * VEF (whose scale differs from VES by orders of magnitude) never reach a price.
 */
const FIAT = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP ' +
    'BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP ' +
    'GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR ' +
    'KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK ' +
    'MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR ' +
    'SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS ' +
    'UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL ' +
    'IRT MLC GGP IMP JEP'
  ).split(/\s+/),
);

/** Whether an (upper-case) code is a fiat currency prices may be published and served for. */
export function isKnownFiat(code: string): boolean {
  return FIAT.has(code);
}
