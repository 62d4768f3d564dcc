package fleet

// OpenUpTo opens a store with the migrations up to version upTo only.
var OpenUpTo = open
