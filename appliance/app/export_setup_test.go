package app

// SetupPageURL is setupPageURL, for the display's test.
var SetupPageURL = setupPageURL
