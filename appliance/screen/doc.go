// Package screen decides what the station's LCD shows and lays it out for
// the display at hand (16x2, 20x4, any HD44780 geometry), in English or
// Spanish.
//
// A [Manager] rotates idle screens (the site and its Wi-Fi, free chargers,
// the cloud link, the time) and interrupts them with events (a card
// accepted or refused, plug in the cable, charging started or stopped, a
// fault). Events time out; a fault outranks the others and stays longer; a
// newer event replaces an older one of the same or lower rank. After a
// charge starts, the live charging screen (connector, energy, power,
// duration) follows the session for a while.
//
// Every screen lists layouts from the richest to the most compact; the
// first whose text fits the display without cutting a word is used, words
// wrap over the rows, numbers sit on the right, and a word longer than the
// display is cut only when nothing else fits. Text goes through
// lcd.Transliterate first, so widths count the characters the display
// really shows.
package screen
