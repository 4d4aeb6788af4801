package main

// version is the producer version written into dump manifests.
const version = "0.1.0"
