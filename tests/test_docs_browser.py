import pytest


@pytest.mark.no_storage
def test_docs_page_renders_in_a_browser(browser, live_server, artifacts_dir):
    page = browser.new_page()
    page.goto(live_server + "/api/docs")
    page.get_by_text("/api/v1/products", exact=True).first.wait_for(timeout=15000)
    page.screenshot(path=str(artifacts_dir / "api-docs.png"))
    page.close()
