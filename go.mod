module github.com/sandlock-learn/sandlock-learn

go 1.26.8
