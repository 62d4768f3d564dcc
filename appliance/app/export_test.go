package app

// BrokerProbe is brokerProbe, for the tests.
var BrokerProbe = brokerProbe

// GeneratedAPPassword is generatedAPPassword, for the display's test.
var GeneratedAPPassword = generatedAPPassword
