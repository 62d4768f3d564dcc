package app

// BrokerProbe is brokerProbe, for the tests.
var BrokerProbe = brokerProbe
