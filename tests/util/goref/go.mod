module vk-trio/tests/util/goref

go 1.26.0
