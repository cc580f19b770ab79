//! cpal in this very process on the fake microphone: the one test that changes the process
//! environment ([`FakeAudio::install_in_process_env`]), alone in its test binary so that no
//! other test thread reads the environment while it does.

use std::time::Duration;

use greenroom_test_support::fake_mic::FakeAudio;
use greenroom_test_support::wait_until;
use greenroom_voice::io::{AudioIn, Next};
use greenroom_voice::{DeviceChoice, Microphone, list_devices};

#[test]
fn cpal_in_this_process_reaches_the_fake_microphone_once_the_env_is_installed() {
    let fake = FakeAudio::start();
    fake.install_in_process_env();
    let list = list_devices();
    assert_eq!(list.host.as_deref(), Some("PulseAudio"), "{list:?}");
    assert_eq!(list.default_input.as_deref(), Some("pulseaudio:fakemic"));
    let mut mic = Microphone::open(DeviceChoice::Default).expect("the fake mic opens");
    assert_eq!(mic.device().unwrap().name, "Fake-microphone");
    wait_until(
        "a chunk from the fake mic",
        Duration::from_secs(10),
        || match mic.next_chunk(Duration::from_millis(20)).unwrap() {
            Next::Chunk(chunk) => Some(chunk),
            _ => None,
        },
    );
}
