module github.com/rampartfw/rampart

go 1.26
