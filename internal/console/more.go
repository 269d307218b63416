package console

// morePages is the route table of the console's other pages (person,
// drift and access, keys, audit search), kept apart from corePages so
// that each set lives in its own files.
func (c *Console) morePages() []Page { return nil }
