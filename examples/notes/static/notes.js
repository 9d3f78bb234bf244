document.documentElement.dataset.notes = "loaded";
